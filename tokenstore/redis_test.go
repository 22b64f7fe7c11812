package tokenstore

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hlgate/hlgate/internal/redistest"
)

func newTestRecord(subject string, version uint64) Record {
	return Record{
		Subject: subject, Kind: KindOAuth, AccessToken: "at-" + subject + "-abcdefgh", RefreshToken: "rt-" + subject + "-abcdefgh",
		Expiry: time.Now().Add(time.Hour).Round(0), UserType: UserTypeLocation, LocationID: subject,
		Scopes: []string{"contacts.readonly"}, Version: version, UpdatedAt: time.Now().Round(0),
	}
}

func TestRedisStoreFence(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	kr, _ := NewKeyring(testKey(t, 1))
	s, err := NewRedisStore(srv.Client(), kr, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Get(ctx, "loc"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing record = %v, want ErrNotFound", err)
	}
	if err := s.Commit(ctx, newTestRecord("loc", 2), "", false); !errors.Is(err, ErrConflict) {
		t.Fatalf("commit of version 2 over nothing = %v, want ErrConflict", err)
	}
	if err := s.Commit(ctx, newTestRecord("loc", 1), "", false); err != nil {
		t.Fatal(err)
	}
	ok, err := s.Lock(ctx, "loc", "me", time.Minute)
	if err != nil || !ok {
		t.Fatalf("Lock = %v, %v", ok, err)
	}
	if ok, _ := s.Lock(ctx, "loc", "other", time.Minute); ok {
		t.Fatal("a second owner took a held lock")
	}
	if err := s.Commit(ctx, newTestRecord("loc", 2), "other", true); !errors.Is(err, ErrConflict) {
		t.Fatalf("strict commit by a non-owner = %v, want ErrConflict", err)
	}
	if err := s.Unlock(ctx, "loc", "other"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Lock(ctx, "loc", "third", time.Minute); ok {
		t.Fatal("unlock by a non-owner released the lock")
	}
	if err := s.Commit(ctx, newTestRecord("loc", 3), "me", true); !errors.Is(err, ErrConflict) {
		t.Fatalf("commit skipping a version = %v, want ErrConflict", err)
	}
	want := newTestRecord("loc", 2)
	if err := s.Commit(ctx, want, "me", true); err != nil {
		t.Fatalf("strict commit by the owner: %v", err)
	}
	if ok, _ := s.Lock(ctx, "loc", "next", time.Minute); !ok {
		t.Fatal("the owner's commit did not release the lock")
	}
	got, err := s.Get(ctx, "loc")
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken != want.AccessToken || got.Version != 2 || !got.Expiry.Equal(want.Expiry) {
		t.Fatalf("Get = %v, want %v", got, want)
	}
}

func TestRedisRecordsSurviveRestartAndDecrypt(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{AOF: true})
	kr, _ := NewKeyring(testKey(t, 1))
	s, _ := NewRedisStore(srv.Client(), kr, nil)
	ctx := context.Background()
	want := newTestRecord("locA", 1)
	if err := s.Commit(ctx, want, "", false); err != nil {
		t.Fatal(err)
	}
	srv.Kill() // SIGKILL: only what AOF (fsync always) persisted survives
	srv.Restart()
	s2, _ := NewRedisStore(srv.Client(), kr, nil)
	got, err := s2.Get(ctx, "locA")
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if got.RefreshToken != want.RefreshToken || got.Version != 1 {
		t.Fatalf("after restart got %v", got)
	}
}

func TestRedisRejectsTamperedAndMisplacedRecords(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	rdb := srv.Client()
	kr, _ := NewKeyring(testKey(t, 1))
	s, _ := NewRedisStore(rdb, kr, nil)
	ctx := context.Background()
	for _, sub := range []string{"locA", "locB"} {
		if err := s.Commit(ctx, newTestRecord(sub, 1), "", false); err != nil {
			t.Fatal(err)
		}
	}
	ct, err := rdb.HGet(ctx, RecordKey("locA"), "ct").Bytes()
	if err != nil {
		t.Fatal(err)
	}

	// Wrong key: a replica configured with another key reads nothing.
	other, _ := NewKeyring(testKey(t, 2))
	so, _ := NewRedisStore(rdb, other, nil)
	if r, err := so.Get(ctx, "locA"); !errors.Is(err, ErrDecrypt) || r.AccessToken != "" {
		t.Errorf("Get with the wrong key = %v, %v; want ErrDecrypt", r, err)
	}

	// Wrong record key: locA's ciphertext copied under locB.
	if err := rdb.HSet(ctx, RecordKey("locB"), "ct", ct).Err(); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Get(ctx, "locB"); !errors.Is(err, ErrDecrypt) || r.AccessToken != "" {
		t.Errorf("Get of a record moved to another key = %v, %v; want ErrDecrypt", r, err)
	}

	// Tampered ciphertext.
	bad := append([]byte(nil), ct...)
	bad[len(bad)/2] ^= 0x01
	if err := rdb.HSet(ctx, RecordKey("locA"), "ct", bad).Err(); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Get(ctx, "locA"); !errors.Is(err, ErrDecrypt) || r.AccessToken != "" {
		t.Errorf("Get of tampered ciphertext = %v, %v; want ErrDecrypt", r, err)
	}

	// Version beside the ciphertext rolled forward without re-encrypting.
	if err := rdb.HSet(ctx, RecordKey("locA"), "ct", ct, "v", "7").Err(); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Get(ctx, "locA"); !errors.Is(err, ErrDecrypt) || r.AccessToken != "" {
		t.Errorf("Get with a forged version = %v, %v; want ErrDecrypt", r, err)
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := context.Background()
	oldRing, _ := NewKeyring(testKey(t, 1))
	sOld, _ := NewRedisStore(srv.Client(), oldRing, nil)
	if err := sOld.Commit(ctx, newTestRecord("loc", 1), "", false); err != nil {
		t.Fatal(err)
	}
	// Deploy: new key current, old key listed for decryption.
	rotRing, _ := NewKeyring(testKey(t, 2), testKey(t, 1))
	sRot, _ := NewRedisStore(srv.Client(), rotRing, nil)
	rec, err := sRot.Get(ctx, "loc")
	if err != nil {
		t.Fatalf("rotated keyring cannot read a record of the old key: %v", err)
	}
	rec.Version++
	if err := sRot.Commit(ctx, rec, "", false); err != nil {
		t.Fatal(err)
	}
	kid, _ := srv.Client().HGet(ctx, RecordKey("loc"), "kid").Result()
	if kid != KeyID(testKey(t, 2)) {
		t.Fatalf("rewritten record has key id %s, want the new key's %s", kid, KeyID(testKey(t, 2)))
	}
	// The old key can now be removed from the ring.
	newRing, _ := NewKeyring(testKey(t, 2))
	sNew, _ := NewRedisStore(srv.Client(), newRing, nil)
	if _, err := sNew.Get(ctx, "loc"); err != nil {
		t.Fatalf("new key alone cannot read the rewritten record: %v", err)
	}
	if _, err := sOld.Get(ctx, "loc"); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("old key alone read a record sealed with the new key: %v", err)
	}
}

func TestOpenStore(t *testing.T) {
	t.Parallel()
	s, err := OpenStore(nil, "", "", nil)
	if _, ok := s.(*MemoryStore); err != nil || !ok {
		t.Fatalf("OpenStore without Redis = %T, %v; want a MemoryStore", s, err)
	}
	srv := redistest.Start(t, redistest.Options{})
	if _, err := OpenStore(srv.Client(), "", "", nil); err == nil || !strings.Contains(err.Error(), "HLGATE_TOKEN_KEY is required") {
		t.Fatalf("OpenStore with Redis and no key = %v; want a refusal naming HLGATE_TOKEN_KEY", err)
	}
	key := base64.StdEncoding.EncodeToString(testKey(t, 1))
	s, err = OpenStore(srv.Client(), key, "", nil)
	if _, ok := s.(*RedisStore); err != nil || !ok {
		t.Fatalf("OpenStore with Redis and a key = %T, %v", s, err)
	}
}
