package watch

// supported reports whether the system has inotify.
const supported = true
