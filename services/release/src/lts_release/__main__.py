from lts_release.main import main

main()
