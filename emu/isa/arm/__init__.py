"""The ARM A32 architecture (ARMv4T and ARMv7-A) as a kasou target: state,
encodings, semantics, disassembler, CPU models and the step function."""
