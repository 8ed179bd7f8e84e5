/* hwloc_info.c: hwloc library version for the build description. */
#include "mstars/buildinfo.h"

#include <hwloc.h>
#include <stdio.h>

void ms_hwloc_version(char *buf, size_t len)
{
    unsigned v = hwloc_get_api_version();
    snprintf(buf, len, "API %u.%u.%u", v >> 16, (v >> 8) & 0xff, v & 0xff);
}
