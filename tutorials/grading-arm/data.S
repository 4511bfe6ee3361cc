@ The arrays the tests pass by label, linked after the submission.
    .align 2
three:
    .word 1, 2, 3
negatives:
    .word -1, -2, -3, -4
