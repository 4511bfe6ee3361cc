reverse-stepi
