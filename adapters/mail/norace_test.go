//go:build !race

package mail

const raceSlowdown = 1
