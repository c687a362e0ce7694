// Command relay is the lower bound of any gateway on one machine: a TCP
// relay that copies bytes between each client connection and a connection
// of its own to the upstream, parsing nothing (on Linux io.Copy between
// two TCP connections splices in the kernel). bench/relay/run.sh
// measures it against the bench's bare pass-through proxy in the same run,
// to show how far above the proxy's throughput any gateway could get when
// the load generator, the upstream and the gateway share the machine.
//
//	relay -listen 127.0.0.1:18080 -upstream 127.0.0.1:9090
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"strings"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18080", "address to accept clients on")
	upstream := flag.String("upstream", "127.0.0.1:9090", "host:port (or http://host:port) to relay to")
	flag.BoolVar(&splice, "splice", true, "let the kernel splice (false: read and write through a buffer)")
	flag.Parse()
	up := strings.TrimPrefix(*upstream, "http://")
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("relay %s -> %s", ln.Addr(), up)
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go relay(c.(*net.TCPConn), up)
	}
}

var splice bool

// relay copies both ways until either side closes, then closes both.
func relay(c *net.TCPConn, up string) {
	defer c.Close()
	d, err := net.Dial("tcp", up)
	if err != nil {
		log.Print(err)
		return
	}
	u := d.(*net.TCPConn)
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { copyTo(u, c); u.CloseWrite(); done <- struct{}{} }()
	go func() { copyTo(c, u); c.CloseWrite(); done <- struct{}{} }()
	<-done
}

func copyTo(dst, src *net.TCPConn) {
	if splice {
		io.Copy(dst, src)
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
