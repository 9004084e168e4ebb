// Package web serves the tracker's web page: plain server-rendered HTML
// for an operator or a listener to see the catalog and the health of its
// swarms in a browser, with no login and nothing to build.
//
//	/                 a search box; without q the catalog's totals and the
//	                  announce rate, with q the ranked matches, 50 a page
//	/artists          the albums grouped by album artist
//	/albums/{id}      an album's tracks in disc and track order
//	/tracks/{id}      a track's metadata, seed URLs and swarm, with its
//	                  magnet link and .torrent
//	/static/style.css the one style sheet
//
// Every other path it is given answers a 404 page. The tracker hands it
// every GET and HEAD that announce, scrape, the catalog API and the health
// and metrics endpoints do not take; those keep their routes as they were. Templates and the style
// sheet are embedded; html/template escapes every value, and the only URL
// it is handed as trusted is the magnet link this package builds itself.
package web
