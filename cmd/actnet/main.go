// Command actnet runs an actnet stack: on a Linux tap device (serve), or as
// two stacks joined by an in-memory link (demo), which needs no privileges.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `actnet: a userspace TCP/IP stack of supervised actors

Usage:
  actnet serve --tap NAME --ipv4 ADDR/PREFIX [flags]   serve on a tap device
  actnet resolve [stack flags] --nameserver IP NAME... print NAME: ADDR ADDR ... (A and AAAA)
  actnet get [stack flags] --nameserver IP [--ca FILE] [-k] [-o FILE] [-v] URL
                                                       fetch an http or https URL
  actnet demo [flags]                                  two stacks over a memory link
  actnet help [COMMAND]                                this text, or a command's flags

Run 'actnet help serve' for the flags of serve, and 'actnet help resolve'
and 'actnet help get' for the client commands, which start their own
stack on the tap with serve's stack flags.

Exit codes: 0 success; 1 the stack could not start or failed (resolve: a
name did not resolve); 2 bad command line. get has more, one per step:
3 resolution, 4 connect, 5 TLS handshake, 6 HTTP status, 7 transfer.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the process exit code: 0 on
// success (serve: stopped by SIGINT or SIGTERM), 1 when the stack could
// not start or failed (demo: its exchange failed), 2 for a bad command
// line, found before anything is opened; get adds codes 3 to 7, one per
// step that failed (getExitCodes).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "demo":
		return demo(args[1:], stdout, stderr)
	case "resolve":
		return resolve(args[1:], stdout, stderr)
	case "get":
		return get(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		if len(args) > 1 {
			switch args[1] {
			case "serve":
				return serve([]string{"-h"}, stdout, stdout)
			case "demo":
				return demo([]string{"-h"}, stdout, stdout)
			case "resolve":
				return resolve([]string{"-h"}, stdout, stdout)
			case "get":
				return get([]string{"-h"}, stdout, stdout)
			default:
				fmt.Fprintf(stderr, "actnet help: unknown command %q\n\n%s", args[1], usage)
				return 2
			}
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "actnet: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
