// Command kfakebroker runs an in-memory Kafka cluster (franz-go's kfake) on
// loopback as a process of its own, for tests that need a broker surviving
// the processes they kill. It prints the listen address on the first line
// of standard output as
//
//	KAFKA_BROKERS=127.0.0.1:<port>
//
// and runs until SIGINT or SIGTERM. Topics are seeded with -topics and
// -partitions; group session timeouts down to -min-session-timeout are
// accepted so that a killed consumer is evicted quickly.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kfakebroker:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kfakebroker", flag.ContinueOnError)
	port := fs.Int("port", 0, "port on 127.0.0.1 (0 picks a free one)")
	topics := fs.String("topics", "", "comma-separated topics to create")
	partitions := fs.Int("partitions", 1, "partitions of each created topic")
	minSession := fs.Duration("min-session-timeout", time.Second, "smallest consumer group session timeout accepted")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(*port),
		kfake.GroupMinSessionTimeout(*minSession),
		kfake.AllowAutoTopicCreation(),
	}
	if *topics != "" {
		opts = append(opts, kfake.SeedTopics(int32(*partitions), strings.Split(*topics, ",")...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("starting the cluster: %w", err)
	}
	defer c.Close()
	fmt.Printf("KAFKA_BROKERS=%s\n", strings.Join(c.ListenAddrs(), ","))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
