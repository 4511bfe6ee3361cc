; batch.S -- the same COUNT messages, one notification per BATCH of 16 (lab 8).
COUNT = 1024
BATCH = 16
.include "send.inc"
