package kb_test

import (
	"context"
	"testing"

	"github.com/outcrop/outcrop/internal/kb"
)

// pauseOnFinish is a store that, after recording a job's final status,
// waits until the test lets it go on: the job's goroutine is held right
// where a client polling the job first sees it finished.
type pauseOnFinish struct {
	testStore
	finished chan kb.IngestionJob
	resume   chan struct{}
}

func (p *pauseOnFinish) PutIngestionJob(ctx context.Context, j kb.IngestionJob) error {
	err := p.testStore.PutIngestionJob(ctx, j)
	if j.Finished() {
		p.finished <- j
		<-p.resume
	}
	return err
}

// TestStartAfterFinish: once a job reads as finished, the next job of the
// data source starts; no ConflictException from the finished one.
func TestStartAfterFinish(t *testing.T) { forEachStore(t, testStartAfterFinish) }

func testStartAfterFinish(t *testing.T, newDB func() opener) {
	p := &pauseOnFinish{finished: make(chan kb.IngestionJob, 2), resume: make(chan struct{})}
	open := newDB()
	e := newEnvStore(t, 0, func() (testStore, error) {
		st, err := open()
		p.testStore = st
		return p, err
	})
	t.Cleanup(func() {
		select {
		case <-p.resume:
		default:
			close(p.resume)
		}
	})
	k, ds := e.setup()
	e.write("a.txt", "Alpha is the first letter of the Greek alphabet.")
	ctx := context.Background()
	if _, err := e.svc.StartIngestionJob(ctx, k.ID, ds.ID, ""); err != nil {
		t.Fatal(err)
	}
	if j := <-p.finished; j.Status != kb.JobComplete {
		t.Fatalf("first job %s: %v", j.Status, j.FailureReasons)
	}
	j2, err := e.svc.StartIngestionJob(ctx, k.ID, ds.ID, "")
	close(p.resume)
	if err != nil {
		t.Fatalf("a job started right after the previous one finished: %v", err)
	}
	if j := e.wait(k.ID, ds.ID, j2.ID); j.Status != kb.JobComplete {
		t.Fatalf("second job %s: %v", j.Status, j.FailureReasons)
	}
}
