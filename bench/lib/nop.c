/* The smallest process start there is: bench/run compiles this twice, linked statically
 * (nop-static: exec + the kernel's own image setup, no loader) and dynamically against libc only
 * (nop-dynamic: + ld.so mapping libc), and spawns both as the process-start floors. */
int main(void) { return 0; }
