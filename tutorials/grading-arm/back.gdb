reverse-stepi 3
info registers r0 r1
