package console

func (s *Server) casePages()      {}
func (s *Server) dashboardPages() {}
func (s *Server) adminPages()     {}
