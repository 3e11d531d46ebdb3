// Package measure is seedbench's accounting of what a storage driver costs besides time: disk used on
// its backing filesystem, page cache held by its backing files, and the eviction that makes a `cold`
// measurement cold. It also fingerprints the environment a result was measured in.
//
// Rules this package encodes (see DESIGN.md, "Measurement rules"):
//
//   - Disk use is a statfs delta of a dedicated backing filesystem, taken after Sync: without the sync,
//     delayed allocation makes the numbers depend on when writeback happened to run.
//   - Page-cache use is the residency of the backing files themselves (cachestat(2), or mmap+mincore
//     on kernels older than 6.5), never /proc/meminfo: other tenants share the machine, and the kernel
//     (DAMON) pages out idle cache on its own.
//   - Eviction is per file (fdatasync + posix_fadvise DONTNEED), which works through overlay and bind
//     paths; it is verified, not assumed: Evict and FileSet.Evict return what was still resident after.
//     DropCaches is global and is only for scenarios that ask for `cold`.
//
// Nothing here times anything: the replay engine owns every timer.
package measure
