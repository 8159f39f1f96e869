package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// buildTool builds the Go program in src (a directory with a main package) into dst, or, when
// src is a file, uses it as the binary.
func buildTool(ctx context.Context, name, src, pkg, dst string) (string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return "", fmt.Errorf("%s: %s not found (%v); give its source directory or binary with -%s", name, src, err, name)
	}
	if !st.IsDir() {
		if st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s: %s is not executable", name, src)
		}
		return src, nil
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dst, pkg)
	cmd.Dir = src
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: go build in %s: %v\n%s", name, src, err, strings.TrimSpace(out.String()))
	}
	return dst, nil
}

// proc is a child process whose output goes to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error // set before done is closed
}

// startProc starts bin with args and env (added to a copy of ours without GATEHOUSE_*
// variables), output appended to logPath.
func startProc(name, bin string, args, env []string, logPath string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so a Ctrl-C in the terminal reaches only us; we stop it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	return p, nil
}

// cleanEnv is our environment without GATEHOUSE_* variables, so a developer's settings do not
// leak into the measured server.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to grace, then kills. It returns the exit error unless the
// process stopped because of our signal.
func (p *proc) stop(grace time.Duration) error {
	if p == nil {
		return nil
	}
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.done
			return fmt.Errorf("%s did not stop within %s after SIGTERM; killed", p.name, grace)
		}
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil
		}
	}
	return p.err
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// waitHTTP polls url until it answers 200, p exits, or the deadline passes; it returns the
// time from start until the 200.
func waitHTTP(ctx context.Context, p *proc, url string, start time.Time, limit time.Duration, logPath string) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	deadline := start.Add(limit)
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		if p.exited() {
			return 0, fmt.Errorf("%s exited before it was ready (%v); last lines of %s:\n%s", p.name, p.err, logPath, tail(logPath, 15))
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s not ready at %s after %s; last lines of %s:\n%s", p.name, url, limit, logPath, tail(logPath, 15))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// waitTCP polls addr until it accepts a connection.
func waitTCP(ctx context.Context, p *proc, addr string, limit time.Duration, logPath string) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if p.exited() {
			return fmt.Errorf("%s exited (%v); last lines of %s:\n%s", p.name, p.err, logPath, tail(logPath, 15))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not accept connections on %s after %s", p.name, addr, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// procStatusKB reads fields such as VmRSS and VmHWM (in kB) from /proc/PID/status.
func procStatusKB(pid int, keys ...string) (map[string]int64, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseProcStatus(f, keys...)
}

// parseProcStatus reads "Key:   1234 kB" lines.
func parseProcStatus(r io.Reader, keys ...string) (map[string]int64, error) {
	out := map[string]int64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for _, want := range keys {
			if k != want {
				continue
			}
			fields := strings.Fields(v)
			if len(fields) == 0 {
				continue
			}
			n, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = n
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if _, ok := out[k]; !ok {
			return nil, fmt.Errorf("no %s in /proc status", k)
		}
	}
	return out, nil
}

// rssSampler records the largest VmRSS of pid until stopped.
type rssSampler struct {
	stopc chan struct{}
	done  chan struct{}
	maxKB int64
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if m, err := procStatusKB(pid, "VmRSS"); err == nil {
				s.maxKB = max(s.maxKB, m["VmRSS"])
			}
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends sampling and returns the largest VmRSS seen, in kB.
func (s *rssSampler) stop() int64 {
	close(s.stopc)
	<-s.done
	return s.maxKB
}
