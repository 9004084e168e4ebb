// Package mpris puts a player on the session D-Bus as an MPRIS 2 media
// player (org.mpris.MediaPlayer2), so that the desktop's media keys, its
// sound applet and playerctl drive it: play, pause, next, previous, stop,
// seek, volume, and the metadata of what plays, with PropertiesChanged
// signals as it changes.
//
// The bus name is org.mpris.MediaPlayer2.peertune, or, when another
// player holds it, org.mpris.MediaPlayer2.peertune.instance<pid>.
//
// The player's state is polled (every 250 ms) rather than pushed: the
// player has no change events, and a quarter second is below what a
// desktop applet shows.
package mpris
