package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"github.com/actnet/actnet/actors"
)

// maxConnections is the connection cap of serve: the flag's value, or
// when it is 0 one sized from the memory the host has available
// (MemAvailable in /proc/meminfo, 16 KiB a connection), or the library's
// default when that cannot be read.
func maxConnections(flag int) int {
	if flag > 0 {
		return flag
	}
	if avail, ok := memAvailable(); ok {
		return actors.MaxConnsForMemory(avail)
	}
	return 0
}

// memAvailable reads MemAvailable from /proc/meminfo, in bytes.
func memAvailable() (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}
