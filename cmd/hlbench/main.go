// Command hlbench measures what hlgate adds over calling HighLevel directly.
//
// It starts the sandbox (the fake HighLevel API) with its quota off and
// hlgate wired as `hlgate serve` wires it, with memory stores and then with
// a redis-server it starts itself, every listener on loopback in this one
// process. For each operation (a contact by id, a search page) and each
// concurrency it measures the same upstream call made five or six ways, one
// right after the other so they share the machine's load:
//
//   - direct: net/http to the sandbox, with the location's Bearer token and
//     the Version header, as a caller without hlgate would;
//   - proxy: a bare net/http/httputil reverse proxy in the same process
//     layout as hlgate (route, set the Bearer token and Version, proxy),
//     the least any REST facade must do, and the baseline of the targets;
//   - quota-proxy, with Redis stores only: the same proxy deciding a
//     go-redis/redis_rate quota (GCRA) per call in the same Redis first,
//     the least a facade sharing a quota across replicas must do, for
//     reference (no target is judged on it);
//   - gRPC-proxy: a bare grpc-go server that does the same and answers
//     HighLevel's body as bytes, the least any gRPC facade must do: what
//     gRPC itself costs, for reference (no target is judged on it);
//   - gRPC: hlgate's ContactsService over one gRPC connection;
//   - REST: hlgate's REST gateway over keep-alive HTTP.
//
// It prints p50, p99 and throughput of every cell with the microseconds
// each facade adds over direct and its ratios to the bare proxy, and can
// write the same to the "Facade vs direct" section of docs/BENCHMARKS.md
// with a PNG plot. `make bench` runs
// it after the package benchmarks.
//
//	go run ./cmd/hlbench [-time 2s] [-calls 2000] [-concurrency 1,8,32,64,256] \
//	    [-doc docs/BENCHMARKS.md] [-plot docs/bench-latency.png] \
//	    [-cpuprofile file -profile-cell gRPC/memory/get/64]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "hlbench:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	load        loadConfig
	concs       []int
	stores      []string
	ops         []string
	doc         string
	plot        string
	cpuProfile  string
	memProfile  string
	profileCell string
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("hlbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.load.Warmup, "warmup", 300*time.Millisecond, "warm-up of each cell, not measured")
	fs.DurationVar(&o.load.MinTime, "time", 2*time.Second, "each cell runs at least this long")
	fs.IntVar(&o.load.MinCalls, "calls", 2000, "and at least this many calls")
	fs.DurationVar(&o.load.MaxTime, "max-time", 15*time.Second, "but stops after this long")
	concs := fs.String("concurrency", "1,8,32,64,256", "comma-separated numbers of concurrent callers")
	stores := fs.String("stores", "memory,redis", "comma-separated: memory (in-process stores), redis (a redis-server started for the run)")
	ops := fs.String("ops", opGet+","+opSearch, "comma-separated operations: get (GetContact), search (SearchContacts)")
	fs.StringVar(&o.doc, "doc", "", "rewrite the generated part of this Markdown file's \"Facade vs direct\" section")
	fs.StringVar(&o.plot, "plot", "", "write the latency plot (PNG) here")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole process during -profile-cell")
	fs.StringVar(&o.memProfile, "memprofile", "", "write the allocations of the whole process during -profile-cell here (and those before it to this name plus .base: read with go tool pprof -base)")
	fs.StringVar(&o.profileCell, "profile-cell", modeGRPC+"/memory/"+opGet+"/64", "mode/store/op/concurrency profiled by -cpuprofile and -memprofile")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var problems []string
	for _, s := range strings.Split(*concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			problems = append(problems, fmt.Sprintf("-concurrency: %q is not a positive number", s))
			continue
		}
		o.concs = append(o.concs, n)
	}
	o.stores = splitList(*stores)
	for _, s := range o.stores {
		if s != "memory" && s != "redis" {
			problems = append(problems, fmt.Sprintf("-stores: %q is not memory or redis", s))
		}
	}
	o.ops = splitList(*ops)
	for _, s := range o.ops {
		if s != opGet && s != opSearch {
			problems = append(problems, fmt.Sprintf("-ops: %q is not %s or %s", s, opGet, opSearch))
		}
	}
	if o.load.MinTime <= 0 || o.load.MaxTime < o.load.MinTime || o.load.Warmup < 0 || o.load.MinCalls < 0 {
		problems = append(problems, "-time must be positive, -max-time at least -time, -warmup and -calls not negative")
	}
	if (o.cpuProfile != "" || o.memProfile != "") && len(strings.Split(o.profileCell, "/")) != 4 {
		problems = append(problems, fmt.Sprintf("-profile-cell %q: want mode/store/op/concurrency", o.profileCell))
	}
	if len(o.concs) == 0 || len(o.stores) == 0 || len(o.ops) == 0 {
		problems = append(problems, "-concurrency, -stores and -ops must each name at least one")
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// run is the whole program; main only adapts it to the process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	info := runInfo{
		Command: commandLine(args), Started: time.Now(), LoadBefore: loadAvg(), Load: o.load,
		GOMAXPROCS: runtime.GOMAXPROCS(0), NCPU: runtime.NumCPU(), ProfileCell: o.profileCell, ProfileFile: o.cpuProfile,
		Source: sourceState(),
	}
	if !o.hasStore("redis") {
		info.RedisVersion = "no Redis"
	} else {
		info.RedisVersion = redisVersion()
	}
	fmt.Fprintf(stdout, "hlbench: %d CPUs, %s, load average %s; %s\n", info.NCPU, runtime.Version(), info.LoadBefore, info.Source)

	var all results
	for _, store := range o.stores {
		cells, err := o.runStore(ctx, store, stdout)
		if err != nil {
			return fmt.Errorf("store %s: %w", store, err)
		}
		all = append(all, cells...)
	}
	info.Took = time.Since(info.Started)
	info.LoadAfter = loadAvg()

	all.printText(stdout, o.stores, o.ops, o.concs)
	fmt.Fprintf(stdout, "load average before %s, after %s; took %s\n", info.LoadBefore, info.LoadAfter, info.Took.Round(time.Second))
	if o.plot != "" {
		if err := all.writePlot(o.plot, o.stores, o.ops, o.concs); err != nil {
			return err
		}
		if o.doc != "" {
			rel, err := filepath.Rel(filepath.Dir(o.doc), o.plot)
			if err != nil {
				return fmt.Errorf("plot path relative to the document: %w", err)
			}
			info.PlotFile = filepath.ToSlash(rel)
		}
		fmt.Fprintf(stdout, "wrote %s\n", o.plot)
	}
	if o.doc != "" {
		if err := writeDoc(o.doc, all.markdown(info, o.stores, o.ops, o.concs)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (section %q)\n", o.doc, sectionHeading)
	}
	return nil
}

func (o *options) hasStore(s string) bool {
	for _, x := range o.stores {
		if x == s {
			return true
		}
	}
	return false
}

// runStore measures every operation, concurrency and mode against one
// freshly started stack.
func (o *options) runStore(ctx context.Context, store string, stdout io.Writer) (results, error) {
	redisAddr := ""
	var cpu cpuClock = processCPU
	if store == "redis" {
		rs, err := startRedis(ctx)
		if err != nil {
			return nil, err
		}
		defer rs.stop()
		redisAddr = rs.addr
		info := redis.NewClient(&redis.Options{Addr: rs.addr})
		defer info.Close()
		cpu = func() (own, redis time.Duration, err error) {
			if own, err = ownCPU(); err != nil {
				return 0, 0, err
			}
			redis, err = rs.cpu(ctx, info)
			return own, redis, err
		}
	}
	st, err := newStack(ctx, store, redisAddr)
	if err != nil {
		return nil, err
	}
	defer st.close()
	cl, err := newClients(st)
	if err != nil {
		return nil, err
	}
	defer cl.close()
	if err := cl.loadContactIDs(ctx); err != nil {
		return nil, err
	}
	if err := cl.verify(ctx); err != nil {
		return nil, fmt.Errorf("the modes disagree, so their timings would not compare: %w", err)
	}

	var out results
	for _, op := range o.ops {
		for _, conc := range o.concs {
			for _, mode := range modes {
				if !st.serves(mode) {
					continue
				}
				call, err := cl.caller(mode, op)
				if err != nil {
					return nil, err
				}
				name := fmt.Sprintf("%s/%s/%s/%d", mode, store, op, conc)
				stopProfile, err := o.maybeProfile(name)
				if err != nil {
					return nil, err
				}
				c, err := measure(ctx, o.load, conc, call, cpu)
				stopProfile()
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				c.Mode, c.Store, c.Op = mode, store, op
				out = append(out, c)
				fmt.Fprintf(stdout, "%-26s %8d calls  p50 %7d µs  p99 %7d µs  %8.0f calls/s  %5d µs CPU/call\n",
					name, c.Calls, c.P50.Microseconds(), c.P99.Microseconds(), c.Throughput(), c.CPUPerCall().Microseconds())
			}
		}
	}
	return out, nil
}

// maybeProfile starts the profiles when name is the profiled cell. They
// cover the measured phase and its warm-up alike: the whole process (load
// generator, hlgate and sandbox) shares the CPUs, so a profile is read by
// package, not as hlgate's alone.
func (o *options) maybeProfile(name string) (func(), error) {
	if (o.cpuProfile == "" && o.memProfile == "") || !strings.EqualFold(name, o.profileCell) {
		return func() {}, nil
	}
	var stops []func()
	stop := func() {
		for _, f := range stops {
			f()
		}
	}
	if o.memProfile != "" {
		if err := writeAllocs(o.memProfile + ".base"); err != nil {
			return nil, err
		}
		stops = append(stops, func() {
			if err := writeAllocs(o.memProfile); err != nil {
				fmt.Fprintln(os.Stderr, "hlbench:", err)
			}
		})
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		stops = append([]func(){func() {
			pprof.StopCPUProfile()
			f.Close()
		}}, stops...)
	}
	return stop, nil
}

// writeAllocs writes the allocations since the process started.
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("allocation profile: %w", err)
	}
	runtime.GC() // the profile is as of the last GC
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("allocation profile: %w", err)
	}
	return f.Close()
}

// commandLine is how the document names the command that made its numbers.
func commandLine(args []string) string {
	q := make([]string, 0, len(args))
	for _, a := range args {
		if strings.ContainsAny(a, " \t'\"$") {
			a = strconv.Quote(a)
		}
		q = append(q, a)
	}
	cmd := strings.TrimSpace("go run ./cmd/hlbench " + strings.Join(q, " "))
	if os.Getenv("HLBENCH_VIA_MAKE") != "" {
		return "make bench   # runs the package benchmarks, then: " + cmd
	}
	return cmd
}
