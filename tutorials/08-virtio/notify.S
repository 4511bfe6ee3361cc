; notify.S -- COUNT messages through the virtio console's transmitq, one
; notification (an OUT to QueueNotify) per message (lab 8).
COUNT = 1024
BATCH = 1
.include "send.inc"
