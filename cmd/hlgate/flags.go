package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// settings binds every setting to a flag and an HLGATE_* environment
// variable. The environment gives the default, a flag overrides it, and
// `-h` lists both.
type settings struct {
	fs   *flag.FlagSet
	env  func(string) string
	errs []error
}

func newSettings(name string, env func(string) string) *settings {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return &settings{fs: fs, env: env}
}

// given reports whether the setting was given, as a flag or in the
// environment, rather than left at its default. Valid after parse.
func (s *settings) given(name, envName string) bool {
	if _, ok := s.lookup(envName); ok {
		return true
	}
	found := false
	s.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

func (s *settings) lookup(envName string) (string, bool) {
	v := s.env(envName)
	return v, v != ""
}

func usage(text, envName string) string {
	return fmt.Sprintf("%s (env %s)", text, envName)
}

func (s *settings) String(p *string, name, envName, def, text string) {
	if v, ok := s.lookup(envName); ok {
		def = v
	}
	s.fs.StringVar(p, name, def, usage(text, envName))
}

// Secret binds a setting whose value must never be printed: a client
// secret, an encryption key, a URL that may carry a password. Its value from
// the environment is applied as the flag's starting value, not as its
// default, so neither `-h` nor the usage text of a mistyped flag shows it.
func (s *settings) Secret(p *string, name, envName, text string) {
	v := (*secretValue)(p)
	*p = s.env(envName)
	s.fs.Var(v, name, usage(text+" (never printed)", envName))
}

// secretValue is a string flag that prints as empty.
type secretValue string

func (v *secretValue) String() string     { return "" }
func (v *secretValue) Set(x string) error { *v = secretValue(x); return nil }

func (s *settings) Bool(p *bool, name, envName string, def bool, text string) {
	if v, ok := s.lookup(envName); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not a boolean", envName, v))
		}
		def = b
	}
	s.fs.BoolVar(p, name, def, usage(text, envName))
}

func (s *settings) Int(p *int, name, envName string, def int, text string) {
	if v, ok := s.lookup(envName); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not an integer", envName, v))
		}
		def = n
	}
	s.fs.IntVar(p, name, def, usage(text, envName))
}

func (s *settings) Int64(p *int64, name, envName string, def int64, text string) {
	if v, ok := s.lookup(envName); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not an integer", envName, v))
		}
		def = n
	}
	s.fs.Int64Var(p, name, def, usage(text, envName))
}

func (s *settings) Duration(p *time.Duration, name, envName string, def time.Duration, text string) {
	if v, ok := s.lookup(envName); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not a duration (e.g. 10s, 500ms)", envName, v))
		}
		def = d
	}
	s.fs.DurationVar(p, name, def, usage(text, envName))
}

// parse parses args and reports every bad environment value at once.
func (s *settings) parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	if len(s.errs) > 0 {
		msgs := make([]string, len(s.errs))
		for i, e := range s.errs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("bad settings: %s", strings.Join(msgs, "; "))
	}
	return nil
}
