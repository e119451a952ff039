# Monitor CPU per report interval vs number of active flows, log-log.
# Called by bench.py:
#   gnuplot -e "datafile='R.dat'; outfile='R.png'; n=3; t1='...'; t2='...'; t3='...'; k=..." plot.gp
# R.dat columns: flows, then median, min, max (ms) for each monitor in order.
# k: the first monitor's ms per flow at 10k flows, for a dashed "linear" guide.
set terminal pngcairo size 900,600 font 'DejaVu Sans,11'
set output outfile
set title "Monitor CPU per 1-s interval vs active flows (median, bars: min–max over rounds)"
set xlabel "active flows (as counted by bccflow, other users' flows included)"
set ylabel "monitor CPU per interval (ms)"
set logscale xy
set format x "%.0s%c"
set format y "10^{%L}"
set xrange [500:200000]
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set key bottom right box opaque
set pointsize 1.3
plot for [i=1:n] datafile using 1:(column(2+3*(i-1))):(column(3+3*(i-1))):(column(4+3*(i-1))) \
        with yerrorlines lw 2 title value('t'.i), \
     (k > 0 ? k * x : NaN) with lines dt 2 lc rgb '#888888' title 'linear in flows (through the first monitor at 10k)'
