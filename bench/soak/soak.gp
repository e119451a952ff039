# bccflow soak plot (bench/soak/analyze.py):
#   gnuplot -e "datafile='samples.dat'; outfile='soak.png'; ttl='...'" soak.gp
# samples.dat columns: minute, RSS MiB, tracked flows, CPU % of one core.
set terminal pngcairo size 1000,750 font 'DejaVu Sans,10'
set output outfile
set multiplot layout 3,1 title ttl
set grid lc rgb '#dddddd'
set xlabel "minute"
set key off
set lmargin 12
set ylabel "RSS (MiB)"
set yrange [0:*]
plot datafile using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc rgb '#1f77b4'
set ylabel "tracked flows"
plot datafile using 1:3 with linespoints lw 2 pt 7 ps 0.6 lc rgb '#2ca02c'
set ylabel "CPU (% of a core)"
plot datafile using 1:4 with linespoints lw 2 pt 7 ps 0.6 lc rgb '#d62728'
unset multiplot
