/* hash.c: FNV-1a 64 (see hash.h). */
#include "mstars/hash.h"

#include <stdio.h>

uint64_t ms_hash_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

void ms_hash_hex(uint64_t h, char buf[17]) { snprintf(buf, 17, "%016llx", (unsigned long long)h); }
