package main

import (
	"encoding/json"
	"fmt"
	"time"
)

type Asset struct {
	AppraisedValue int64  `json:"AppraisedValue"`
	Color          string `json:"Color"`
	ID             string `json:"ID"`
	Owner          string `json:"Owner"`
	Size           int64  `json:"Size"`
}

func main() {
	arg := []byte{'['}
	for j := range 1000 {
		if j > 0 {
			arg = append(arg, ',')
		}
		arg = fmt.Appendf(arg, `{"ID":"bench-%d","Color":"blue","Size":5,"Owner":"benchoooooooooooooooooooo","AppraisedValue":300}`, j)
	}
	arg = append(arg, ']')
	for r := 0; r < 5; r++ {
		t := time.Now()
		n := 20
		for range n {
			var l []Asset
			if err := json.Unmarshal(arg, &l); err != nil {
				panic(err)
			}
		}
		fmt.Println("decode 1000:", time.Since(t)/time.Duration(n))
	}
	a := Asset{ID: "x", Color: "blue", Owner: "benchooooooooooooooooo", Size: 5, AppraisedValue: 300}
	t := time.Now()
	for range 10000 {
		json.Marshal(a)
	}
	fmt.Println("marshal 1:", time.Since(t)/10000)
}
