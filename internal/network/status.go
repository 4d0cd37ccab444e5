package network

import (
	"context"
	"net/http"
	"sort"
	"time"

	adminpb "github.com/chorusledger/chorus/proto/chorus/admin"
)

// NodeStatus is one node as `chorus status` reports it.
type NodeStatus struct {
	Name     string          `json:"name"`
	Role     Role            `json:"role"`
	MSPID    string          `json:"organization"`
	Address  string          `json:"address"`
	PID      int             `json:"pid,omitempty"`
	Running  bool            `json:"running"`
	Health   string          `json:"health"` // "ok", "failing", "unreachable", "stopped"
	Ready    bool            `json:"ready"`
	Detail   string          `json:"detail,omitempty"` // why not ready
	Channels []ChannelStatus `json:"channels"`
}

// ChannelStatus is a node's view of one channel.
type ChannelStatus struct {
	Channel string `json:"channel"`
	Height  uint64 `json:"height"`
	Status  string `json:"status,omitempty"`
	// RaftRole and Leader are reported by orderers.
	RaftRole string `json:"raftRole,omitempty"`
	Leader   uint64 `json:"leader,omitempty"`
}

// Status reports every node of the network.
func (n *Network) Status(ctx context.Context) []NodeStatus {
	out := make([]NodeStatus, len(n.Spec.Nodes))
	done := make(chan struct{}, len(n.Spec.Nodes))
	for i, nd := range n.Spec.Nodes {
		go func() {
			defer func() { done <- struct{}{} }()
			out[i] = n.nodeStatus(ctx, nd)
		}()
	}
	for range n.Spec.Nodes {
		<-done
	}
	return out
}

func (n *Network) nodeStatus(ctx context.Context, nd Node) NodeStatus {
	st := NodeStatus{Name: nd.Name, Role: nd.Role, MSPID: nd.MSPID, Address: nd.Address, Health: "stopped", Channels: []ChannelStatus{}}
	pid, running := n.PID(nd)
	st.PID, st.Running = pid, running
	if !running {
		return st
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	st.Health = health(ctx, nd)
	st.Ready, st.Detail = n.Ready(ctx, nd)
	if st.Ready {
		st.Detail = ""
	}
	client, closeConn, err := n.Admin(nd)
	if err != nil {
		return st
	}
	defer closeConn()
	res, err := client.ListChannels(ctx, &adminpb.ListChannelsRequest{})
	if err != nil {
		return st
	}
	for _, c := range res.Channels {
		st.Channels = append(st.Channels, ChannelStatus{Channel: c.Channel, Height: c.Height, Status: c.Status, RaftRole: c.ConsensusRole, Leader: c.ConsensusLeader})
	}
	sort.Slice(st.Channels, func(i, j int) bool { return st.Channels[i].Channel < st.Channels[j].Channel })
	return st
}

func health(ctx context.Context, nd Node) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+nd.OpsAddress+"/healthz", nil)
	if err != nil {
		return "unreachable"
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "unreachable"
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK {
		return "ok"
	}
	return "failing"
}
