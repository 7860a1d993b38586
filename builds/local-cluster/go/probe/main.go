// probe: the one binary of verify.sh's test pods (a scratch image: nothing can be pulled here).
//
//	probe serve ADDR      HTTP server answering "hello from $HOSTNAME"
//	probe get URL         GET with a 3 s timeout; exit 1 on failure
//	probe lookup NAME     DNS lookup through the pod's resolv.conf; exit 1 on failure
//	probe write FILE      writes FILE, reads it back, then sleeps (a volume check)
//	probe sleep           blocks forever
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func fail(err error) {
	fmt.Println("ERROR:", err)
	os.Exit(1)
}

// sleep blocks forever (an empty select would be reported as a deadlock: no other goroutine runs).
func sleep() {
	for {
		time.Sleep(time.Hour)
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe serve ADDR | get URL | lookup NAME | write FILE | sleep")
		os.Exit(2)
	}
	arg := ""
	if len(os.Args) > 2 {
		arg = os.Args[2]
	}
	switch os.Args[1] {
	case "serve":
		host, _ := os.Hostname()
		http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "hello from %s\n", host) })
		fail(http.ListenAndServe(arg, nil))
	case "get":
		c := http.Client{Timeout: 3 * time.Second}
		r, err := c.Get(arg)
		if err != nil {
			fail(err)
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("%s %s", r.Status, body)
	case "lookup":
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupHost(ctx, arg)
		if err != nil {
			fail(err)
		}
		fmt.Println(arg, "->", addrs)
	case "write":
		want := fmt.Sprintf("written at %s\n", time.Now().Format(time.RFC3339))
		if err := os.WriteFile(arg, []byte(want), 0o644); err != nil {
			fail(err)
		}
		got, err := os.ReadFile(arg)
		if err != nil || string(got) != want {
			fail(fmt.Errorf("read back %q: %v", got, err))
		}
		fmt.Print("wrote ", arg, ": ", want)
		sleep()
	case "sleep":
		sleep()
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}
