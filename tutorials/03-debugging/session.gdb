break putc
continue
backtrace
delete
watch count,1
continue
continue
info serial
reverse-continue
reverse-continue
reverse-stepi 3
info serial
info exits
continue
quit
