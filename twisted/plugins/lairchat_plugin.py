"""The `twistd lairchat` plugin.

This file sits in a `twisted/plugins/` directory with no `__init__.py` (a portion of
Twisted's own plugin package); setup.cfg explains how it is installed.  Twisted
imports every plugin module to list them, so importing this one must stay cheap:
the server itself is imported only when the service is made.
"""

from __future__ import annotations

from twisted.application.service import IServiceMaker
from twisted.plugin import IPlugin
from zope.interface import implementer

from lairchat.config import Options


@implementer(IServiceMaker, IPlugin)
class LairChatServiceMaker:
    tapname = "lairchat"
    description = "Lair Chat server: binary TCP protocol, REST API and WebSocket."
    options = Options

    def makeService(self, options):
        import os
        import sys

        from lairchat.config import (
            MEMORY_DATABASE,
            ConfigError,
            doubtful_settings,
            load_config,
            unknown_variables,
        )
        from lairchat.lifecycle import (
            hand_database_to,
            twistd_daemon,
            twistd_owner,
            twistd_rundir,
            twistd_umask,
        )
        from lairchat.observability.logs import observer_for_twistd
        from lairchat.service import makeService

        parent = getattr(options, "parent", None)
        umask = twistd_umask(parent)
        if umask is not None:
            os.umask(umask)
        try:
            config = load_config(options, os.environ, twistd_rundir(parent))
            # Under twistd, `options.parent` holds twistd's own options (--logfile,
            # --nodaemon, ...): the log goes where twistd would write it, in our
            # format. Opened before the database: a log file that cannot be opened
            # stops the start before anything is changed.
            try:
                log_observer = observer_for_twistd(parent, config.log_format, config.log_level)
            except OSError as e:
                raise ConfigError(f"--logfile: cannot open {e.filename}: {e.strerror}") from None
            database = config.database_path
            new = database != MEMORY_DATABASE and not os.path.exists(database)
            server = makeService(config)
            hand_database_to(config.database_path, twistd_owner(parent))
        except ConfigError as e:
            # One line, no traceback: a configuration mistake (or a database,
            # certificate or log file that cannot be used) is not a crash.
            print(f"lairchat: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        server.log_observer = log_observer
        server.freeze_heap = True
        server.foreground = not twistd_daemon(parent)
        server.twistd_options = parent
        if database != MEMORY_DATABASE:
            server.database, server.database_is_new = database, new
        server.warnings = (*unknown_variables(os.environ), *doubtful_settings(config))
        return server


serviceMaker = LairChatServiceMaker()
