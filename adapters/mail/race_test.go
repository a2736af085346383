//go:build race

package mail

// raceSlowdown loosens timing bounds under the race detector.
const raceSlowdown = 5
