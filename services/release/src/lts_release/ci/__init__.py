"""CI results as CI systems send them, turned into `CiResultRecorded`.

Pure parsers, one module per format (`github`, `gitlab`, `junit`, `sarif`, `pip_audit`,
`cloudevents`): each reads what its producer sends and returns `Observation`s, or raises
`BadInput` naming the field that is wrong. `gates` maps job names to gates by configured
patterns; `recording` turns observations into events; `recorder` is the I/O shell that appends
them (once per delivery) to the stream `ci_stream(branch)`."""
