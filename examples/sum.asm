# The sum of 1..100 with a bounded loop: the same answer on the kernel (where it runs
# as a socket filter through BPF_PROG_TEST_RUN) and on pybpf's own vm engine.
    r0 = 0
    r1 = 1
loop:
    r0 += r1            # r0 = 1 + 2 + ... + r1
    r1 += 1
    if r1 <= 0x64 goto loop
    exit
