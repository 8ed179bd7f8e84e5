/* hash.h: 64-bit FNV-1a content hashes for provenance (model files, stores and the
 * configuration record the hash of what produced them). Not a cryptographic hash. */
#ifndef MSTARS_HASH_H
#define MSTARS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define MS_HASH_INIT UINT64_C(0xcbf29ce484222325)

/* Continue hash h over n bytes. Start from MS_HASH_INIT. */
uint64_t ms_hash_bytes(uint64_t h, const void *data, size_t n);
/* Hex string of 16 characters plus NUL into buf[17]. */
void ms_hash_hex(uint64_t h, char buf[17]);

#endif
