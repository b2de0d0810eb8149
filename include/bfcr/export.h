#ifndef BFCR_EXPORT_H
#define BFCR_EXPORT_H
/* Only symbols marked BFCR_API are exported from the shared library. */
#if defined(BFCR_BUILDING) && defined(BFCR_SHARED)
#define BFCR_API __attribute__((visibility("default")))
#else
#define BFCR_API
#endif
#endif
