/* The KVM exit round trip in C: the yardstick for kasou's kvm engine.
 *
 * One VM, one vCPU in real mode running "out 0x80, al; jmp $-2" (the guest
 * kvm.accel.measure_exit_cost and `emu bench --kvm-exit` run): every
 * KVM_RUN returns with KVM_EXIT_IO (Documentation/virt/kvm/api.rst,
 * "KVM_RUN", "KVM_EXIT_IO") and is entered again at once.
 *
 * Usage: kvm_exit [EXITS [SAMPLES]]; prints one line per sample,
 * "us_per_exit <wall> cpu <cpu>", then "median <wall> cpu <cpu>": the
 * microseconds per exit in wall-clock time (CLOCK_MONOTONIC) and in the
 * process's CPU time (CLOCK_PROCESS_CPUTIME_ID: user + system, the guest's
 * time included), each median taken on its own.  On a busy host the wall
 * clock also counts the time other processes ran; the CPU time does not.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static const uint8_t guest[] = {0xE6, 0x80, 0xEB, 0xFC};   /* out 0x80, al; jmp $-2 */

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long exits = argc > 1 ? atol(argv[1]) : 20000;
    int samples = argc > 2 ? atoi(argv[2]) : 5;
    if (exits <= 0 || samples <= 0 || samples > 100) {
        fprintf(stderr, "usage: kvm_exit [EXITS>0 [SAMPLES 1..100]]\n");
        return 2;
    }
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        die("/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        die("KVM_CREATE_VM");
    uint8_t *mem = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        die("mmap");
    memcpy(mem + 0x1000, guest, sizeof guest);
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = 0x2000, .userspace_addr = (uint64_t)mem,
    };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        die("KVM_SET_USER_MEMORY_REGION");
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        die("KVM_CREATE_VCPU");
    int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size < (int)sizeof(struct kvm_run))
        die("KVM_GET_VCPU_MMAP_SIZE");
    struct kvm_run *run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        die("mmap kvm_run");
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        die("KVM_GET_SREGS");
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
        die("KVM_SET_SREGS");
    struct kvm_regs regs = {.rip = 0x1000, .rflags = 2};
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        die("KVM_SET_REGS");
    double per[100], cpu[100];
    if (ioctl(vcpu, KVM_RUN, 0) < 0)          /* warm up */
        die("KVM_RUN");
    for (int s = 0; s < samples; s++) {
        double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        for (long i = 0; i < exits; i++) {
            if (ioctl(vcpu, KVM_RUN, 0) < 0)
                die("KVM_RUN");
            if (run->exit_reason != KVM_EXIT_IO || run->io.port != 0x80) {
                fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
                return 1;
            }
        }
        cpu[s] = (now(CLOCK_PROCESS_CPUTIME_ID) - c0) / exits * 1e6;
        per[s] = (now(CLOCK_MONOTONIC) - t0) / exits * 1e6;
        printf("us_per_exit %.4f cpu %.4f\n", per[s], cpu[s]);
    }
    qsort(per, samples, sizeof per[0], cmp);
    qsort(cpu, samples, sizeof cpu[0], cmp);
    printf("median %.4f cpu %.4f\n", per[samples / 2], cpu[samples / 2]);
    return 0;
}
