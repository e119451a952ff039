# Turns text files into C char arrays, so the probe text ships inside the
# binary without copying it by hand. Called at build time:
#   cmake -DOUT=file.c -DNAMES="a;b" -DFILES="x;y" -P embed.cmake
set(content "/* Generated from probes/ by scripts/embed.cmake: do not edit. */\n")
list(LENGTH NAMES n)
math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
  list(GET NAMES ${i} name)
  list(GET FILES ${i} file)
  file(READ "${file}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REGEX REPLACE "((0x..,){16})" "\\1\n\t" hex "${hex}")
  string(APPEND content "const char ${name}[] = {\n\t${hex}0x00\n};\n")
endforeach()
file(WRITE "${OUT}" "${content}")
