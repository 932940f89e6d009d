//go:build tamago && amd64

#include "go_asm.h"
#include "textflag.h"

// The message and hypercall arguments cpuinit uses when memory is too small,
// laid out here because Go data is not initialised yet at that point.
DATA	smallMemMsg<>+0(SB)/8, $"actnet: "
DATA	smallMemMsg<>+8(SB)/8, $"too litt"
DATA	smallMemMsg<>+16(SB)/8, $"le memor"
DATA	smallMemMsg<>+24(SB)/8, $"y: give "
DATA	smallMemMsg<>+32(SB)/8, $"solo5-hv"
DATA	smallMemMsg<>+40(SB)/8, $"t --mem="
DATA	smallMemMsg<>+48(SB)/8, $"512 or m"
DATA	smallMemMsg<>+56(SB)/8, $"ore\n    "
GLOBL	smallMemMsg<>(SB),RODATA,$64

DATA	smallMemPuts<>+0(SB)/8, $smallMemMsg<>(SB)
DATA	smallMemPuts<>+8(SB)/8, $60
GLOBL	smallMemPuts<>(SB),NOPTR,$16

DATA	smallMemHalt<>+0(SB)/8, $0
DATA	smallMemHalt<>+8(SB)/8, $1
GLOBL	smallMemHalt<>(SB),NOPTR,$16

// cpuinit is the guest's first instruction. solo5-hvt enters it in long
// mode with paging on (guest memory identity-mapped), interrupts off and
// %rdi pointing at the boot information. It keeps that pointer, sizes the
// runtime's RAM from the guest's memory, sets the stack below the top of it
// and starts the Go runtime. Nothing here may touch an I/O port or MMIO:
// the tender kills the guest for any access it does not handle.
TEXT cpuinit(SB),NOSPLIT|NOFRAME,$0
	CLI
	MOVQ	DI, ·bootInfo(SB)

	// RamSize = mem_size - RamStart, or halt when memory ends below
	// RamStart + minRAM.
	MOVQ	0(DI), AX
	MOVQ	runtime∕goos·RamStart(SB), BX
	ADDQ	$const_minRAM, BX
	CMPQ	AX, BX
	JLS	toosmall
	SUBQ	runtime∕goos·RamStart(SB), AX
	MOVQ	AX, runtime∕goos·RamSize(SB)

	MOVQ	runtime∕goos·RamStart(SB), SP
	ADDQ	runtime∕goos·RamSize(SB), SP
	SUBQ	runtime∕goos·RamStackOffset(SB), SP
	JMP	_rt0_tamago_start(SB)

toosmall:
	// PUTS the message, then HALT with status 1.
	LEAQ	smallMemPuts<>(SB), AX
	MOVW	$const_portPuts, DX
	BYTE	$0xef	// OUTL %eax, %dx
	LEAQ	smallMemHalt<>(SB), AX
	MOVW	$const_portHalt, DX
	BYTE	$0xef
	HLT

// func hypercall(port uint16, arg unsafe.Pointer)
TEXT ·hypercall(SB),NOSPLIT,$0-16
	MOVW	port+0(FP), DX
	MOVQ	arg+8(FP), AX
	BYTE	$0xef	// OUTL %eax, %dx: the tender reads the 32-bit address
	RET

// func rdtsc() uint64
TEXT ·rdtsc(SB),NOSPLIT,$0-8
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+0(FP)
	RET
