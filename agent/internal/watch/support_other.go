//go:build !linux

package watch

// supported reports whether the system has inotify. fsnotify's other
// backends open a descriptor per file (kqueue) or report paths with another
// separator (Windows); the agent scans on a schedule there instead.
const supported = false
