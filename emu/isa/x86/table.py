"""The x86 opcode map as data (SDM Vol. 2D Appendix A, operand notation of §A.2).

One row per encoding: ``opcode[/reg]  NAME  operands  [level] [attributes]``.

* opcode: hex bytes (``0F B6``); ``/n`` selects the ModR/M reg field of a group;
  ``+r`` means the low three bits name a register (operand ``Zb``/``Zv``).
* NAME: the encoding name the semantics register under.
* operands (SDM Appendix A.2): ``E`` ModR/M r/m, ``G`` ModR/M reg, ``M``
  memory-only r/m, ``S`` segment register (reg field), ``I`` immediate,
  ``J`` relative offset, ``A`` far pointer, ``O`` moffs, ``X``/``Y`` the
  DS:rSI / ES:rDI string operands, ``C``/``D`` control/debug register,
  ``R`` register-only r/m, ``Z`` register in the opcode's low bits; sizes
  ``b`` byte, ``w`` word, ``d`` dword, ``q`` qword, ``v`` operand size,
  ``z`` operand size capped at 32 bits, ``sb`` byte sign-extended to the
  operand size, ``p`` far pointer; fixed registers ``AL CL DX rAX eAX``,
  segment registers ``ES CS SS DS FS GS`` and the constant ``1``.
* level: the first CPU that has it: ``86`` (default), ``186``, ``286``, ``386``,
  ``486``, ``586``.
* attributes: ``i64`` invalid in 64-bit mode, ``d64`` operand size defaults
  to 64 bits in 64-bit mode, ``f64`` forced to 64 bits there, ``pm`` only in
  protected mode (#UD in real and virtual-8086 mode), ``string`` a string
  instruction (takes REP), ``modrm`` decode a ModR/M byte without operands.

Per-CPU differences that are *decoding* facts (the 8086's aliases and its
``POP CS``, SALC) are the ``MODEL_ROWS`` below; differences in *behaviour*
live in the semantics, keyed by the CPU model.

Shifts by CL (D2, D3, 0F A5, 0F AD) are named ``ROL_CL`` ... ``SHRD_CL``:
their count is a run-time value, so their semantics are helpers, while the
same mnemonics with a constant count are inlined by the translator.
"""

ONE_BYTE = """
00 ADD Eb,Gb
01 ADD Ev,Gv
02 ADD Gb,Eb
03 ADD Gv,Ev
04 ADD AL,Ib
05 ADD rAX,Iz
06 PUSH_SEG ES i64
07 POP_SEG ES i64
08 OR Eb,Gb
09 OR Ev,Gv
0A OR Gb,Eb
0B OR Gv,Ev
0C OR AL,Ib
0D OR rAX,Iz
0E PUSH_SEG CS i64
10 ADC Eb,Gb
11 ADC Ev,Gv
12 ADC Gb,Eb
13 ADC Gv,Ev
14 ADC AL,Ib
15 ADC rAX,Iz
16 PUSH_SEG SS i64
17 POP_SEG SS i64
18 SBB Eb,Gb
19 SBB Ev,Gv
1A SBB Gb,Eb
1B SBB Gv,Ev
1C SBB AL,Ib
1D SBB rAX,Iz
1E PUSH_SEG DS i64
1F POP_SEG DS i64
20 AND Eb,Gb
21 AND Ev,Gv
22 AND Gb,Eb
23 AND Gv,Ev
24 AND AL,Ib
25 AND rAX,Iz
27 DAA - i64
28 SUB Eb,Gb
29 SUB Ev,Gv
2A SUB Gb,Eb
2B SUB Gv,Ev
2C SUB AL,Ib
2D SUB rAX,Iz
2F DAS - i64
30 XOR Eb,Gb
31 XOR Ev,Gv
32 XOR Gb,Eb
33 XOR Gv,Ev
34 XOR AL,Ib
35 XOR rAX,Iz
37 AAA - i64
38 CMP Eb,Gb
39 CMP Ev,Gv
3A CMP Gb,Eb
3B CMP Gv,Ev
3C CMP AL,Ib
3D CMP rAX,Iz
3F AAS - i64
40+r INC Zv i64
48+r DEC Zv i64
50+r PUSH Zv d64
58+r POP Zv d64
60 PUSHA - 186 i64
61 POPA - 186 i64
62 BOUND Gv,Ma 186 i64
63 ARPL Ew,Gw 286 i64 pm
68 PUSH Iz 186 d64
69 IMUL3 Gv,Ev,Iz 186
6A PUSH sIb 186 d64
6B IMUL3 Gv,Ev,sIb 186
6C INS Yb,DX 186 string
6D INS Yz,DX 186 string
6E OUTS DX,Xb 186 string
6F OUTS DX,Xz 186 string
70+cc JCC Jb
80/0 ADD Eb,Ib
80/1 OR Eb,Ib
80/2 ADC Eb,Ib
80/3 SBB Eb,Ib
80/4 AND Eb,Ib
80/5 SUB Eb,Ib
80/6 XOR Eb,Ib
80/7 CMP Eb,Ib
81/0 ADD Ev,Iz
81/1 OR Ev,Iz
81/2 ADC Ev,Iz
81/3 SBB Ev,Iz
81/4 AND Ev,Iz
81/5 SUB Ev,Iz
81/6 XOR Ev,Iz
81/7 CMP Ev,Iz
82/0 ADD Eb,Ib i64
82/1 OR Eb,Ib i64
82/2 ADC Eb,Ib i64
82/3 SBB Eb,Ib i64
82/4 AND Eb,Ib i64
82/5 SUB Eb,Ib i64
82/6 XOR Eb,Ib i64
82/7 CMP Eb,Ib i64
83/0 ADD Ev,sIb
83/1 OR Ev,sIb
83/2 ADC Ev,sIb
83/3 SBB Ev,sIb
83/4 AND Ev,sIb
83/5 SUB Ev,sIb
83/6 XOR Ev,sIb
83/7 CMP Ev,sIb
84 TEST Eb,Gb
85 TEST Ev,Gv
86 XCHG Eb,Gb
87 XCHG Ev,Gv
88 MOV Eb,Gb
89 MOV Ev,Gv
8A MOV Gb,Eb
8B MOV Gv,Ev
8C MOV_FROM_SEG Ev,Sw
8D LEA Gv,M
8E MOV_TO_SEG Sw,Ew
8F/0 POP Ev d64
90 NOP -
91+r XCHG Zv,rAX
98 CBW -
99 CWD -
9A CALLF Ap i64
9B WAIT -
9C PUSHF - d64
9D POPF - d64
9E SAHF -
9F LAHF -
A0 MOV AL,Ob
A1 MOV rAX,Ov
A2 MOV Ob,AL
A3 MOV Ov,rAX
A4 MOVS Yb,Xb string
A5 MOVS Yv,Xv string
A6 CMPS Xb,Yb string
A7 CMPS Xv,Yv string
A8 TEST AL,Ib
A9 TEST rAX,Iz
AA STOS Yb,AL string
AB STOS Yv,rAX string
AC LODS AL,Xb string
AD LODS rAX,Xv string
AE SCAS AL,Yb string
AF SCAS rAX,Yv string
B0+r MOV Zb,Ib
B8+r MOV Zv,Iv
C0/0 ROL Eb,Ib 186
C0/1 ROR Eb,Ib 186
C0/2 RCL Eb,Ib 186
C0/3 RCR Eb,Ib 186
C0/4 SHL Eb,Ib 186
C0/5 SHR Eb,Ib 186
C0/6 SAL Eb,Ib 186
C0/7 SAR Eb,Ib 186
C1/0 ROL Ev,Ib 186
C1/1 ROR Ev,Ib 186
C1/2 RCL Ev,Ib 186
C1/3 RCR Ev,Ib 186
C1/4 SHL Ev,Ib 186
C1/5 SHR Ev,Ib 186
C1/6 SAL Ev,Ib 186
C1/7 SAR Ev,Ib 186
C2 RET Iw f64
C3 RET - f64
C4 LES Gz,Mp i64
C5 LDS Gz,Mp i64
C6/0 MOV Eb,Ib
C7/0 MOV Ev,Iz
C8 ENTER Iw,Ib 186 d64
C9 LEAVE - 186 d64
CA RETF Iw
CB RETF -
CC INT3 -
CD INT Ib
CE INTO - i64
CF IRET -
D0/0 ROL Eb,1
D0/1 ROR Eb,1
D0/2 RCL Eb,1
D0/3 RCR Eb,1
D0/4 SHL Eb,1
D0/5 SHR Eb,1
D0/6 SAL Eb,1
D0/7 SAR Eb,1
D1/0 ROL Ev,1
D1/1 ROR Ev,1
D1/2 RCL Ev,1
D1/3 RCR Ev,1
D1/4 SHL Ev,1
D1/5 SHR Ev,1
D1/6 SAL Ev,1
D1/7 SAR Ev,1
D2/0 ROL_CL Eb,CL
D2/1 ROR_CL Eb,CL
D2/2 RCL_CL Eb,CL
D2/3 RCR_CL Eb,CL
D2/4 SHL_CL Eb,CL
D2/5 SHR_CL Eb,CL
D2/6 SAL_CL Eb,CL
D2/7 SAR_CL Eb,CL
D3/0 ROL_CL Ev,CL
D3/1 ROR_CL Ev,CL
D3/2 RCL_CL Ev,CL
D3/3 RCR_CL Ev,CL
D3/4 SHL_CL Ev,CL
D3/5 SHR_CL Ev,CL
D3/6 SAL_CL Ev,CL
D3/7 SAR_CL Ev,CL
D4 AAM Ib i64
D5 AAD Ib i64
D7 XLAT -
D8 ESC Ew
D9 ESC Ew
DA ESC Ew
DB ESC Ew
DC ESC Ew
DD ESC Ew
DE ESC Ew
DF ESC Ew
E0 LOOPNE Jb
E1 LOOPE Jb
E2 LOOP Jb
E3 JCXZ Jb
E4 IN AL,Ib
E5 IN eAX,Ib
E6 OUT Ib,AL
E7 OUT Ib,eAX
E8 CALL Jz f64
E9 JMP Jz f64
EA JMPF Ap i64
EB JMP Jb f64
EC IN AL,DX
ED IN eAX,DX
EE OUT DX,AL
EF OUT DX,eAX
F1 INT1 - 386
F4 HLT -
F5 CMC -
F6/0 TEST Eb,Ib
F6/2 NOT Eb
F6/3 NEG Eb
F6/4 MUL Eb
F6/5 IMUL1 Eb
F6/6 DIV Eb
F6/7 IDIV Eb
F7/0 TEST Ev,Iz
F7/2 NOT Ev
F7/3 NEG Ev
F7/4 MUL Ev
F7/5 IMUL1 Ev
F7/6 DIV Ev
F7/7 IDIV Ev
F8 CLC -
F9 STC -
FA CLI -
FB STI -
FC CLD -
FD STD -
FE/0 INC Eb
FE/1 DEC Eb
FF/0 INC Ev
FF/1 DEC Ev
FF/2 CALL_IND Ev f64
FF/3 CALLF_IND Mp
FF/4 JMP_IND Ev f64
FF/5 JMPF_IND Mp
FF/6 PUSH Ev d64
"""

TWO_BYTE = """
0F 00/0 SLDT Ew 286 pm
0F 00/1 STR Ew 286 pm
0F 00/2 LLDT Ew 286 pm
0F 00/3 LTR Ew 286 pm
0F 00/4 VERR Ew 286 pm
0F 00/5 VERW Ew 286 pm
0F 01/0 SGDT M 286
0F 01/1 SIDT M 286
0F 01/2 LGDT M 286
0F 01/3 LIDT M 286
0F 01/4 SMSW Ew 286
0F 01/6 LMSW Ew 286
0F 01/7 INVLPG E 486
0F 02 LAR Gv,Ew 286 pm
0F 03 LSL Gv,Ew 286 pm
0F 05 SYSCALL - 586
0F 06 CLTS - 286
0F 07 SYSRET - 586
0F 08 INVD - 486
0F 09 WBINVD - 486
0F 0B UD2 - 586
0F 1F/0 NOP_EV Ev 586
0F 20 MOV_FROM_CR Ry,Cd 386
0F 21 MOV_FROM_DR Ry,Dd 386
0F 22 MOV_TO_CR Cd,Ry 386
0F 23 MOV_TO_DR Dd,Ry 386
0F 30 WRMSR - 586
0F 31 RDTSC - 586
0F 32 RDMSR - 586
0F 40+cc CMOVCC Gv,Ev 586
0F 80+cc JCC Jz 386 f64
0F 90+cc SETCC Eb 386
0F A0 PUSH_SEG FS 386 d64
0F A1 POP_SEG FS 386 d64
0F A2 CPUID - 586
0F A3 BT Ev,Gv 386
0F A4 SHLD Ev,Gv,Ib 386
0F A5 SHLD_CL Ev,Gv,CL 386
0F A8 PUSH_SEG GS 386 d64
0F A9 POP_SEG GS 386 d64
0F AB BTS Ev,Gv 386
0F AC SHRD Ev,Gv,Ib 386
0F AD SHRD_CL Ev,Gv,CL 386
0F AF IMUL2 Gv,Ev 386
0F B0 CMPXCHG Eb,Gb 486
0F B1 CMPXCHG Ev,Gv 486
0F B2 LSS Gz,Mp 386
0F B3 BTR Ev,Gv 386
0F B4 LFS Gz,Mp 386
0F B5 LGS Gz,Mp 386
0F B6 MOVZX Gv,Eb 386
0F B7 MOVZX Gv,Ew 386
0F BA/4 BT Ev,Ib 386
0F BA/5 BTS Ev,Ib 386
0F BA/6 BTR Ev,Ib 386
0F BA/7 BTC Ev,Ib 386
0F BB BTC Ev,Gv 386
0F BC BSF Gv,Ev 386
0F BD BSR Gv,Ev 386
0F BE MOVSX Gv,Eb 386
0F BF MOVSX Gv,Ew 386
0F C0 XADD Eb,Gb 486
0F C1 XADD Ev,Gv 486
0F C7/1 CMPXCHG8B Mq 586
0F C8+r BSWAP Zv 486
"""

# Rows that replace the generic ones in 64-bit mode (SDM Vol. 2D Table A-2:
# opcode 63 is ARPL outside 64-bit mode and MOVSXD in it; 90 is NOP, but
# with REX.B it names R8 and is XCHG r8, rAX).
LONG64_ROWS = """
63 MOVSXD Gv,Ed 686
90 NOP90 Zv,rAX 686
"""

# Rows that exist only on a given CPU model, replacing the generic ones.
# The 8086 decodes 60-6F as 70-7F, C0/C1/C8/C9 as C2/C3/CA/CB, 0F as POP CS,
# F1 as a second LOCK prefix, FF/7 as PUSH, and has SALC at D6 (the
# SingleStepTests metadata, status "alias" and "undocumented").
MODEL_ROWS = {
    "8086": """
0F POP_SEG CS
60+cc JCC Jb
C0 RET Iw
C1 RET -
C8 RETF Iw
C9 RETF -
D6 SALC -
FF/7 PUSH Ev
F6/1 TEST Eb,Ib
F7/1 TEST Ev,Iz
8F/1 POP Ev
8F/2 POP Ev
8F/3 POP Ev
8F/4 POP Ev
8F/5 POP Ev
8F/6 POP Ev
8F/7 POP Ev
C6/1 MOV Eb,Ib
C6/2 MOV Eb,Ib
C6/3 MOV Eb,Ib
C6/4 MOV Eb,Ib
C6/5 MOV Eb,Ib
C6/6 MOV Eb,Ib
C6/7 MOV Eb,Ib
C7/1 MOV Ev,Iz
C7/2 MOV Ev,Iz
C7/3 MOV Ev,Iz
C7/4 MOV Ev,Iz
C7/5 MOV Ev,Iz
C7/6 MOV Ev,Iz
C7/7 MOV Ev,Iz
D0/6 SETMO Eb,1
D1/6 SETMO Ev,1
D2/6 SETMOC Eb,CL
D3/6 SETMOC Ev,CL
""",
    "286": """
D6 SALC -
F6/1 TEST Eb,Ib
F7/1 TEST Ev,Iz
""",
    "max": """
D6 SALC - i64
F6/1 TEST Eb,Ib
F7/1 TEST Ev,Iz
""",
}

LEVELS = {"8086": 86, "286": 286, "max": 686}
