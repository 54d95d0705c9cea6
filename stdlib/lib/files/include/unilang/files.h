/* <unilang/files.h>: the read-only files sealed into the image (the app's
 * `files` key).  The build generates the table (gen/unilang_files.S) between
 * the linker-defined symbols __unilang_files_start and __unilang_files_end,
 * sorted by path (bytewise), in the image's read-only data. */
#ifndef UNILANG_FILES_H
#define UNILANG_FILES_H

#include <stdint.h>

struct unilang_file {
    const char *path;          /* below its sealed folder, '/'-separated, no leading '/', NUL-terminated */
    const unsigned char *data; /* size bytes (followed by no terminator) */
    const char *type;          /* content type from the extension, NUL-terminated */
    uint32_t path_len;         /* bytes of path, without the NUL */
    uint32_t size;             /* bytes of data */
    uint32_t type_len;         /* bytes of type, without the NUL */
    uint32_t reserved;
};

/* The file whose path is exactly the len bytes at path (no leading '/'), or NULL.
 * Any bytes are accepted: a path with a NUL, "..", or longer than any sealed
 * path simply finds nothing. */
const struct unilang_file *unilang_file_find(const char *path, unsigned len);
/* How many files are sealed. */
unsigned unilang_file_count(void);
/* The i-th file in path order, or NULL when i >= unilang_file_count(). */
const struct unilang_file *unilang_file_at(unsigned i);

#endif /* UNILANG_FILES_H */
