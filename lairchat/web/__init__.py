"""The browser chat client: static files served at ``/`` and ``/app/`` by
:mod:`lairchat.transports.http.web` (docs/WEB.md). Plain HTML, CSS and JavaScript,
no build step; everything the page loads comes from the server that serves it."""
