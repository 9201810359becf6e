from lts_triage.main import main

main()
