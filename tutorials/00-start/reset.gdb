info registers cs ds ss ip sp dl
stepi
quit
