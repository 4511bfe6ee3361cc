break again
continue
info tb
stepi 5
info registers ax bx cx
quit
