// Command hlgate is the gRPC and REST facade over the HighLevel API V2.
//
//	hlgate serve [flags]     run the facade (hlgate serve -h lists every setting)
//	hlgate serve --sandbox   run it against an in-process sandbox, with a demo location installed
//	hlgate sandbox [flags]   run the strict fake of the HighLevel API on its own
//	hlgate hash-key          read a caller key on stdin, print the SHA-256 the keys file stores
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hlgate/hlgate/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "hlgate:", err)
		os.Exit(1)
	}
}

const usageText = `usage:
  hlgate serve [flags]     run the facade (hlgate serve -h lists every setting)
  hlgate serve --sandbox   run it against an in-process sandbox, demo location installed
  hlgate sandbox [flags]   run the strict fake of the HighLevel API V2 on its own
  hlgate hash-key          read a caller key on stdin, print its SHA-256 for the keys file
`

// run is the whole program; main only adapts it to the process.
func run(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return errors.New("missing command")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], env, stdout, stderr)
	case "sandbox":
		return runSandbox(ctx, args[1:], env, stdout, stderr)
	case "hash-key":
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		key := strings.TrimSpace(line)
		if key == "" {
			return errors.New("hash-key: no key on stdin")
		}
		fmt.Fprintln(stdout, server.HashKey(key))
		return nil
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return nil
	}
	fmt.Fprint(stderr, usageText)
	return fmt.Errorf("unknown command %q", args[0])
}

// newLogger returns the JSON logger every component shares.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}
