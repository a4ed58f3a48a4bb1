// Package file is the source that observes files: regular files,
// directories, symlinks (with their target) and special files, each with its
// type, permissions, owner and group (by id and by name), size, modification
// time and SHA-256, and for text files up to a size cap their content, which
// the emitter redacts before storing it.
//
// Paths are walked by one goroutine and hashed by one worker per core. With a
// Cache, a file whose size, modification time, change time, inode and device
// are the same as at the last scan is not read again; its digest and content
// reference come from the cache. Symlinks are never followed, special files
// are never opened, and an unreadable file becomes an item with an error
// attribute, never an abort.
package file
