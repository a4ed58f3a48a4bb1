#!/bin/sh
# A stand-in for rpm with a broken database.
echo 'error: rpmdb: BDB0113 Thread/process 1234/0 failed: BDB1507 Thread died in Berkeley DB library' >&2
exit 1
