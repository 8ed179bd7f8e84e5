/* fits_read_util.c: see fits_read_util.h. */
#include "fits_read_util.h"

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ms_status status_class(int fstatus)
{
    switch (fstatus) {
    case FILE_NOT_OPENED:
    case FILE_NOT_CREATED:
    case END_OF_FILE:
    case READ_ERROR:
    case FILE_NOT_CLOSED:
    case TOO_MANY_FILES:
    case NO_MATCHING_DRIVER:
    case DATA_DECOMPRESSION_ERR:
    case UNKNOWN_REC: /* first card is not SIMPLE: not a FITS file */
    case NO_SIMPLE:
    case NO_END:      /* the header runs into the end of the file */
    case BAD_HEADER_FILL:
        return MS_EIO;
    case MEMORY_ALLOCATION:
        return MS_ENOMEM;
    default:
        return MS_EFITS;
    }
}

ms_status ms_fits_fail(const char *path, const char *what, int fstatus)
{
    char text[FLEN_STATUS];
    fits_get_errstatus(fstatus, text);
    fits_clear_errmsg(); /* cfitsio keeps its own message stack; the message goes here */
    MS_ERROR(status_class(fstatus), "%s: %s: cfitsio status %d (%s)", path, what, fstatus,
             text);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* cfitsio allocates the inflated file at the size written in the gzip trailer (ISIZE,
 * last 4 bytes). In a truncated file those bytes are arbitrary: up to 4 GB would be
 * requested per file. Deflate cannot expand more than 1032:1, and a FITS file holds at
 * least one 2880-byte block, so anything outside that is refused here. */
static ms_status check_gzip_trailer(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return MS_OK; /* cfitsio reports the failure to open */
    unsigned char magic[2] = {0, 0}, t[4] = {0, 0, 0, 0};
    struct stat sb;
    int bad = 0;
    long long size = 0;
    uint32_t isize = 0;
    if (fstat(fd, &sb) == 0 && pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f &&
        magic[1] == 0x8b) {
        size = (long long)sb.st_size;
        bad = size < 18 || pread(fd, t, 4, (off_t)(size - 4)) != 4;
        isize = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
        bad = bad || isize < 2880 || (double)isize > 1032.0 * (double)size + 65536.0;
    }
    close(fd);
    if (bad)
        MS_ERROR(MS_EIO, "%s: truncated or corrupt gzip file (%lld bytes; the trailer claims "
                 "%u bytes uncompressed)", path, size, isize);
    return MS_OK;
}

ms_status ms_fits_open_read(const char *path, fitsfile **fp)
{
    *fp = NULL;
    /* the extra open is paid only by names that say gzip; cfitsio itself goes by content */
    if (ends_with(path, ".gz") || ends_with(path, ".GZ")) MS_TRY(check_gzip_trailer(path));
    int st = 0;
    if (fits_open_diskfile(fp, path, READONLY, &st)) {
        *fp = NULL;
        ms_status code = ms_fits_fail(path, "cannot open as FITS", st);
        return code == MS_EFITS ? MS_EIO : code; /* any open failure: the file is unusable */
    }
    return MS_OK;
}

void ms_fits_close(fitsfile *fp)
{
    if (!fp) return;
    int st = 0;
    fits_close_file(fp, &st);
    fits_clear_errmsg();
}
