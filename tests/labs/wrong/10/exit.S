@ Lab 10, exercise 2, a plausible wrong answer: SYS_EXIT (0x18) with the
@ status as the reason code -- AArch32 SYS_EXIT has no status, only a
@ reason, and any reason but ApplicationExit is status 1.
    .global _start
_start:
    mov r1, r5
    mov r0, #0x18
    svc 0x123456
