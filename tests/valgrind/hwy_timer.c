/* Preloaded (LD_PRELOAD) into programs run under valgrind: libavcodec
 * loads libjxl, whose libhwy measures its timer's resolution in a
 * constructor with RDTSCP. Valgrind 3.19 decodes that instruction only when
 * cpuid advertises it, and some VMs hide the flag while the CPU runs it, so
 * every libav* program died of SIGILL before main. libhwy calls the
 * function through its PLT, so this definition replaces it. Nothing in
 * Podium or ffmpeg's remux path uses libhwy's timer: the value only has
 * to be non-zero. */
#include <stdint.h>

/* hwy::platform::TimerResolution() */
uint64_t _ZN3hwy8platform15TimerResolutionEv(void);

uint64_t _ZN3hwy8platform15TimerResolutionEv(void)
{
    return 1;
}
