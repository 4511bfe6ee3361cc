; data.S -- strings the tests pass by label (assembled after the submission)
greeting:   .asciz "hello, world"
empty:      .asciz ""
