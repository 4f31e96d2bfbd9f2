package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupLag returns, summed over the topic's partitions, the end offset minus
// the consumer group's committed offset (a partition without a commit counts
// from 0), and the end offsets' sum.
func GroupLag(ctx context.Context, brokers []string, group, topic string) (lag, end int64, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return 0, 0, fmt.Errorf("creating client: %w", err)
	}
	defer cl.Close()

	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	meta.Topics = append(meta.Topics, mt)
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		return 0, 0, fmt.Errorf("reading metadata of %s: %w", topic, err)
	}
	if len(mresp.Topics) != 1 {
		return 0, 0, fmt.Errorf("metadata of %s: %d topics answered", topic, len(mresp.Topics))
	}
	ends := map[int32]int64{}
	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for _, p := range mresp.Topics[0].Partitions {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition = p.Partition
		lp.Timestamp = -1 // latest
		lt.Partitions = append(lt.Partitions, lp)
	}
	lo.Topics = append(lo.Topics, lt)
	lresp, err := lo.RequestWith(ctx, cl)
	if err != nil {
		return 0, 0, fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	for _, t := range lresp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return 0, 0, fmt.Errorf("listing offsets of %s/%d: error code %d", topic, p.Partition, p.ErrorCode)
			}
			ends[p.Partition] = p.Offset
		}
	}

	of := kmsg.NewPtrOffsetFetchRequest()
	of.Group = group
	ot := kmsg.NewOffsetFetchRequestTopic()
	ot.Topic = topic
	for p := range ends {
		ot.Partitions = append(ot.Partitions, p)
	}
	of.Topics = append(of.Topics, ot)
	oresp, err := of.RequestWith(ctx, cl)
	if err != nil {
		return 0, 0, fmt.Errorf("fetching offsets of group %s: %w", group, err)
	}
	committed := map[int32]int64{}
	for _, t := range oresp.Topics {
		for _, p := range t.Partitions {
			if p.Offset > 0 {
				committed[p.Partition] = p.Offset
			}
		}
	}
	for p, e := range ends {
		lag += e - committed[p]
		end += e
	}
	return lag, end, nil
}

// ReadAll consumes topic from the start until it has n records or ctx ends.
func ReadAll(ctx context.Context, brokers []string, topic string, n int) ([]*kgo.Record, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, fmt.Errorf("creating consumer: %w", err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("reading %s: %d of %d records: %w", topic, len(out), n, err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out, nil
}

// DeadLetter is one line of the pipeline's dead-letter file.
type DeadLetter struct {
	Error     string `json:"error"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Object    string `json:"object"`
	Value     string `json:"value"`
}

// ReadDLQ reads the dead-letter file; a missing file is empty. A last line
// cut short by a kill is skipped.
func ReadDLQ(path string) ([]DeadLetter, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the DLQ: %w", err)
	}
	var out []DeadLetter
	for line := range bytes.Lines(b) {
		var d DeadLetter
		if err := json.Unmarshal(line, &d); err != nil {
			if !bytes.HasSuffix(line, []byte("\n")) {
				continue // cut short by a kill
			}
			return out, fmt.Errorf("reading the DLQ: line %d: %w", len(out)+1, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// GroupState returns the consumer group's state as the broker reports it
// ("Stable", "PreparingRebalance", "CompletingRebalance", "Empty", "Dead")
// and how many members it has.
func GroupState(ctx context.Context, brokers []string, group string) (state string, members int, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return "", 0, fmt.Errorf("creating client: %w", err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return "", 0, fmt.Errorf("describing group %s: %w", group, err)
	}
	if len(resp.Groups) != 1 {
		return "", 0, fmt.Errorf("describing group %s: %d groups answered", group, len(resp.Groups))
	}
	g := resp.Groups[0]
	if g.ErrorCode != 0 {
		return "", 0, fmt.Errorf("describing group %s: error code %d", group, g.ErrorCode)
	}
	return g.State, len(g.Members), nil
}
